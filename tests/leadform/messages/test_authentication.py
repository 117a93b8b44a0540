"""`flask email dns` against a real DNS server on loopback (dnslib serving fixed records)."""

import pytest
from dnslib import RCODE, RR
from dnslib.server import BaseResolver, DNSLogger, DNSServer

from leadform.messages.authentication import expected_records, sending_domain
from tests.leadform.mail_fixtures import free_port

DOMAIN = "tessellate.example"
TARGET = "u1234567.wl123.sendgrid.net"
SETTINGS = {
    "MAIL_FROM": f"Tessellate Advisory <bookings@{DOMAIN}>",
    "SENDGRID_DNS_SUBDOMAIN": "em1234",
    "SENDGRID_DNS_TARGET": TARGET,
    "SENDGRID_LINK_SUBDOMAIN": "url1234",
}
COMPLETE = f"""
em1234.{DOMAIN}. 300 IN CNAME {TARGET}.
s1._domainkey.{DOMAIN}. 300 IN CNAME s1.domainkey.{TARGET}.
s2._domainkey.{DOMAIN}. 300 IN CNAME s2.domainkey.{TARGET}.
_dmarc.{DOMAIN}. 300 IN TXT "v=DMARC1; p=quarantine; rua=mailto:dmarc@{DOMAIN}"
{DOMAIN}. 300 IN TXT "v=spf1 include:_spf.google.com ~all"
url1234.{DOMAIN}. 300 IN CNAME sendgrid.net.
1234567.{DOMAIN}. 300 IN CNAME sendgrid.net.
"""


class FixedZone(BaseResolver):
    """Answers from a fixed list of records; NXDOMAIN for names it does not hold."""

    def __init__(self, zone: str):
        self.records = RR.fromZone(zone)

    def resolve(self, request, handler):
        """Reply with the records matching the question's name and type."""
        reply = request.reply()
        question = request.q
        named = [rr for rr in self.records if rr.rname == question.qname]
        for rr in named:
            if rr.rtype == question.qtype:
                reply.add_answer(rr)
        if not named:
            reply.header.rcode = RCODE.NXDOMAIN
        return reply


@pytest.fixture
def dns_server():
    """Return start(zone) -> port: a UDP DNS server on 127.0.0.1 serving `zone`."""
    servers = []

    def start(zone: str) -> int:
        port = free_port()
        quiet = DNSLogger(log="-request,-reply,-truncated,-error", logf=lambda _text: None)
        server = DNSServer(FixedZone(zone), address="127.0.0.1", port=port, logger=quiet)
        server.start_thread()
        servers.append(server)
        return port

    yield start
    for server in servers:
        server.stop()
        server.server.server_close()  # stop() leaves the socket open


def run_dns(make_app, port: int, **settings):
    """Run `flask email dns` against the local server; return the result."""
    app = make_app(**(SETTINGS | settings))
    args = ["email", "dns", "--nameserver", "127.0.0.1", "--port", str(port), "--timeout", "2"]
    return app.test_cli_runner().invoke(args=args)


def line_for(output: str, name: str) -> str:
    """The result line naming `name` (after the list of records to publish)."""
    checked = output.split("What DNS says:")[1]
    return next(line for line in checked.splitlines() if f" {name}" in line)


def test_the_expected_records_follow_the_settings():
    records = {(r.rtype, r.name): r.value for r in expected_records(SETTINGS)}

    assert sending_domain(SETTINGS) == DOMAIN
    assert records[("CNAME", f"em1234.{DOMAIN}")] == TARGET
    assert records[("CNAME", f"s1._domainkey.{DOMAIN}")] == f"s1.domainkey.{TARGET}"
    assert records[("CNAME", f"s2._domainkey.{DOMAIN}")] == f"s2.domainkey.{TARGET}"
    assert records[("CNAME", f"url1234.{DOMAIN}")] == "sendgrid.net"
    assert records[("CNAME", f"1234567.{DOMAIN}")] == "sendgrid.net"
    assert records[("TXT", f"_dmarc.{DOMAIN}")].startswith("v=DMARC1; p=")


def test_all_records_in_place(make_app, dns_server):
    result = run_dns(make_app, dns_server(COMPLETE))

    assert result.exit_code == 0, result.output
    assert "0 missing or wrong, 0 warning(s)." in result.output
    assert line_for(result.output, f"s2._domainkey.{DOMAIN}").split()[0] == "ok"


def test_missing_and_wrong_records_are_named(make_app, dns_server):
    zone = "\n".join(
        line
        for line in COMPLETE.splitlines()
        if not line.startswith(("s2._domainkey", "_dmarc", "url1234"))
    )
    zone += f'\n_dmarc.{DOMAIN}. 300 IN TXT "v=DMARC1; p=none; rua=mailto:d@{DOMAIN}"'
    zone += f"\nurl1234.{DOMAIN}. 300 IN CNAME elsewhere.example."

    result = run_dns(make_app, dns_server(zone))

    assert result.exit_code == 1
    assert line_for(result.output, f"s2._domainkey.{DOMAIN}").split()[0] == "MISSING"
    assert f"s2.domainkey.{TARGET}" in line_for(result.output, f"s2._domainkey.{DOMAIN}")
    assert line_for(result.output, f"url1234.{DOMAIN}").split()[0] == "WRONG"
    assert "p=none" in line_for(result.output, f"_dmarc.{DOMAIN}")
    assert line_for(result.output, f"em1234.{DOMAIN}").split()[0] == "ok"
    assert "2 missing or wrong, 1 warning(s)." in result.output


def test_two_spf_records_are_wrong(make_app, dns_server):
    zone = COMPLETE + f'\n{DOMAIN}. 300 IN TXT "v=spf1 include:sendgrid.net ~all"'

    result = run_dns(make_app, dns_server(zone))

    assert result.exit_code == 1
    assert "more than one SPF record" in line_for(result.output, f"TXT   {DOMAIN}")


def test_without_sendgrid_settings_it_says_which_to_set(make_app, dns_server):
    result = run_dns(
        make_app,
        dns_server(COMPLETE),
        SENDGRID_DNS_SUBDOMAIN="",
        SENDGRID_DNS_TARGET="",
        SENDGRID_LINK_SUBDOMAIN="",
    )

    assert "LEADFORM_SENDGRID_DNS_SUBDOMAIN and LEADFORM_SENDGRID_DNS_TARGET" in result.output
    assert result.exit_code == 0, result.output  # DMARC and SPF are in place


def test_with_no_dns_reachable_it_says_so_and_exits_cleanly(make_app):
    result = run_dns(make_app, free_port())  # nothing listens there

    assert result.exit_code == 0, result.output
    assert "DNS is not reachable from here" in result.output
    assert "Records to publish:" in result.output  # the list is still printed
