"""Production settings: pelicanconf.py plus absolute URLs and feeds on the public domain.

Build with `make build` or `pelican content -s publishconf.py -o output`.
"""

import os
import sys

sys.path.append(os.path.dirname(__file__))
from pelicanconf import *  # noqa: E402

SITEURL = os.environ.get("SITEURL", "https://www.tessellate.example")
RELATIVE_URLS = False
FEED_DOMAIN = SITEURL
DELETE_OUTPUT_DIRECTORY = True
# Every text file also as .gz and .br, served as they are by nginx (deploy/nginx/).
PRECOMPRESS = True
