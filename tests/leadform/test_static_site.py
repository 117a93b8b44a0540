"""The built site served next to the booking pages (LEADFORM_SITE_DIR)."""

import pytest


@pytest.fixture
def site_dir(tmp_path):
    """A tiny stand-in for Pelican's output."""
    root = tmp_path / "output"
    (root / "blog" / "first-post").mkdir(parents=True)
    (root / "theme" / "css").mkdir(parents=True)
    (root / "index.html").write_text("<h1>Home page</h1>")
    (root / "blog" / "first-post" / "index.html").write_text("<h1>First post</h1>")
    (root / "theme" / "css" / "site.css").write_text("body { color: black; }")
    (root / "404.html").write_text("<h1>Site's own not-found page</h1>")
    (tmp_path / "secret.txt").write_text("outside the site")
    return root


@pytest.fixture
def site_client(make_app, site_dir):
    return make_app(SITE_DIR=site_dir).test_client()


def fetch(client, path):
    """GET `path`, read the body and close the file behind it (send_file streams)."""
    response = client.get(path)
    response.get_data()
    response.close()
    return response


def test_root_serves_the_index(site_client):
    response = fetch(site_client, "/")
    assert response.status_code == 200
    assert b"Home page" in response.data


def test_directory_url_serves_its_index(site_client):
    response = fetch(site_client, "/blog/first-post/")
    assert response.status_code == 200
    assert b"First post" in response.data


def test_directory_without_slash_redirects(site_client):
    response = fetch(site_client, "/blog/first-post")
    assert response.status_code == 301
    assert response.headers["Location"].endswith("/blog/first-post/")


def test_css_is_served_with_its_type(site_client):
    response = fetch(site_client, "/theme/css/site.css")
    assert response.status_code == 200
    assert response.mimetype == "text/css"


def test_missing_page_gets_the_site_404_with_status_404(site_client):
    response = fetch(site_client, "/no/such/page/")
    assert response.status_code == 404
    assert b"Site's own not-found page" in response.data


@pytest.mark.parametrize(
    "path",
    [
        "/..%2fsecret.txt",
        "/blog/..%2f..%2fsecret.txt",
        "/%2e%2e/secret.txt",
        "/blog/%2e%2e/%2e%2e/secret.txt",
        "/..%5csecret.txt",
        "/%2fetc%2fpasswd",
    ],
)
def test_path_traversal_is_refused(site_client, path):
    response = fetch(site_client, path)
    assert response.status_code in (404, 400)
    assert b"outside the site" not in response.data
    assert b"root:" not in response.data


def test_booking_page_still_wins(site_client):
    response = fetch(site_client, "/book")
    assert response.status_code == 200
    assert b'class="month__days"' in response.data


def test_booking_script_is_served(site_client):
    response = fetch(site_client, "/book/static/book.js")
    assert response.status_code == 200
    assert b"resolvedOptions().timeZone" in response.data


def test_without_site_dir_only_the_booking_pages_exist(client):
    response = fetch(client, "/")
    assert response.status_code == 404
    assert b"Page not found" in response.data
