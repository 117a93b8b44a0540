"""The sending domain's DNS records (SendGrid domain authentication, DKIM, SPF, DMARC, link
branding): what this deployment expects, and a check of what DNS really says (dnspython).

The records come from the settings: the domain of `MAIL_FROM`, and the two values SendGrid's
"Sender Authentication" page shows for it (`SENDGRID_DNS_SUBDOMAIN`, e.g. `em1234`, and
`SENDGRID_DNS_TARGET`, e.g. `u1234567.wl123.sendgrid.net`), plus `SENDGRID_LINK_SUBDOMAIN`
(e.g. `url1234`) when link branding is on. docs/email.md explains each record.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parseaddr

import dns.exception
import dns.resolver

OK, MISSING, WRONG, WARNING = "ok", "missing", "wrong", "warning"
DMARC_EXAMPLE = "v=DMARC1; p=none; rua=mailto:dmarc-reports@{domain}; adkim=r; aspf=r"
_USER_ID = re.compile(r"^u(\d+)\.")


class DnsUnreachableError(Exception):
    """No DNS server answered; nothing could be checked."""


@dataclass(frozen=True)
class ExpectedRecord:
    """One DNS record the deployment needs, as it should be published."""

    purpose: str
    rtype: str  # "CNAME" or "TXT"
    name: str
    value: str  # the CNAME target, or the TXT text to publish


@dataclass
class Finding:
    """What DNS said about one expected record."""

    record: ExpectedRecord
    status: str  # ok, missing, wrong, warning
    found: list[str] = field(default_factory=list)
    advice: str = ""


def sending_domain(config: Mapping) -> str:
    """The domain of the MAIL_FROM address, lower case."""
    return parseaddr(config.get("MAIL_FROM") or "")[1].rpartition("@")[2].lower()


def expected_records(config: Mapping) -> list[ExpectedRecord]:
    """Every record the settings call for, SendGrid's first, then DMARC and link branding."""
    domain = sending_domain(config)
    records = _sendgrid_records(config, domain)
    records.append(
        ExpectedRecord(
            "DMARC policy", "TXT", f"_dmarc.{domain}", DMARC_EXAMPLE.format(domain=domain)
        )
    )
    records.append(ExpectedRecord("SPF of the domain itself", "TXT", domain, "v=spf1 ... ~all"))
    return records + _link_records(config, domain)


def _sendgrid_records(config: Mapping, domain: str) -> list[ExpectedRecord]:
    """SendGrid's three CNAMEs: the return path (SPF) and the two rotating DKIM keys."""
    subdomain = (config.get("SENDGRID_DNS_SUBDOMAIN") or "").strip(". ").lower()
    target = (config.get("SENDGRID_DNS_TARGET") or "").strip(". ").lower()
    if not subdomain or not target:
        return []
    return [
        ExpectedRecord("SendGrid return path (SPF)", "CNAME", f"{subdomain}.{domain}", target),
        ExpectedRecord("DKIM key s1", "CNAME", f"s1._domainkey.{domain}", f"s1.domainkey.{target}"),
        ExpectedRecord("DKIM key s2", "CNAME", f"s2._domainkey.{domain}", f"s2.domainkey.{target}"),
    ]


def _link_records(config: Mapping, domain: str) -> list[ExpectedRecord]:
    """Link branding's CNAMEs: the tracking host, and the account's id host (if known)."""
    subdomain = (config.get("SENDGRID_LINK_SUBDOMAIN") or "").strip(". ").lower()
    if not subdomain:
        return []
    records = [ExpectedRecord("Link branding", "CNAME", f"{subdomain}.{domain}", "sendgrid.net")]
    user_id = _USER_ID.match((config.get("SENDGRID_DNS_TARGET") or "").lower())
    if user_id:
        name = f"{user_id.group(1)}.{domain}"
        records.append(ExpectedRecord("Link branding (account id)", "CNAME", name, "sendgrid.net"))
    return records


def make_resolver(nameserver: str | None = None, port: int = 53, timeout: float = 3.0):
    """A resolver asking `nameserver` (an IP) on `port`, or the system's; raise if none."""
    try:
        resolver = dns.resolver.Resolver(configure=nameserver is None)
    except dns.resolver.NoResolverConfiguration:
        raise DnsUnreachableError("no DNS server is configured on this machine") from None
    if nameserver is not None:
        resolver.nameservers = [nameserver]
        resolver.port = port
    resolver.lifetime = timeout
    return resolver


def lookup(resolver, name: str, rtype: str) -> list[str]:
    """The answers for `name`/`rtype` ([] when there are none); raise if DNS is unreachable."""
    try:
        answer = resolver.resolve(name, rtype, raise_on_no_answer=False)
    except dns.resolver.NXDOMAIN:
        return []
    except (dns.resolver.NoNameservers, dns.exception.Timeout) as exc:
        raise DnsUnreachableError(f"no DNS server answered ({type(exc).__name__})") from None
    if rtype == "TXT":
        return [b"".join(rdata.strings).decode("utf-8", "replace") for rdata in answer]
    return [rdata.to_text().rstrip(".").lower() for rdata in answer]


def check_records(records: list[ExpectedRecord], resolver) -> list[Finding]:
    """Look each record up; raise `DnsUnreachableError` if DNS cannot be asked at all."""
    return [_check(record, lookup(resolver, record.name, record.rtype)) for record in records]


def _check(record: ExpectedRecord, found: list[str]) -> Finding:
    """Judge one record from what DNS returned."""
    if record.purpose == "DMARC policy":
        return _check_dmarc(record, found)
    if record.purpose == "SPF of the domain itself":
        return _check_spf(record, found)
    if not found:
        return Finding(
            record, MISSING, found, f"publish {record.rtype} {record.name} -> {record.value}"
        )
    if record.value not in found:
        return Finding(record, WRONG, found, f"points to {', '.join(found)}, not {record.value}")
    return Finding(record, OK, found)


def _check_dmarc(record: ExpectedRecord, found: list[str]) -> Finding:
    """A DMARC record must exist once; p=none and no rua= are worth a warning."""
    policies = [text for text in found if text.lower().startswith("v=dmarc1")]
    if not policies:
        return Finding(record, MISSING, found, f'publish TXT {record.name} "{record.value}"')
    if len(policies) > 1:
        return Finding(record, WRONG, found, "more than one DMARC record: receivers ignore both")
    tags = _tags(policies[0])
    if "p" not in tags:
        return Finding(record, WRONG, found, "no p= policy tag")
    if "rua" not in tags:
        return Finding(record, WARNING, found, "no rua= address: you will get no reports")
    if tags["p"] == "none":
        return Finding(
            record,
            WARNING,
            found,
            "p=none only monitors: move to quarantine once reports are clean",
        )
    return Finding(record, OK, found)


def _check_spf(record: ExpectedRecord, found: list[str]) -> Finding:
    """At most one SPF record on the domain itself; none is fine for SendGrid's own mail."""
    spf = [text for text in found if text.lower().startswith("v=spf1")]
    if len(spf) > 1:
        return Finding(record, WRONG, spf, "more than one SPF record: every SPF check fails")
    if not spf:
        return Finding(
            record,
            WARNING,
            spf,
            "none: SendGrid's mail passes SPF on its own subdomain, but other mail sent as this "
            "domain (your office mailboxes) does not",
        )
    return Finding(record, OK, spf)


def _tags(policy: str) -> dict[str, str]:
    """Split "v=DMARC1; p=none; rua=..." into {"v": "DMARC1", "p": "none", ...}."""
    pairs = (part.strip().partition("=") for part in policy.split(";") if "=" in part)
    return {key.strip().lower(): value.strip().lower() for key, _, value in pairs}
