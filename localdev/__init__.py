"""Development only: the demo and everything it runs on one machine (docs/demo.md).

Kept out of ``shared/`` so the production image neither copies nor installs it: ``stack``
(embedded database, emulators, the functions as local servers), ``review`` (the review page and
its local server), ``demo_queries`` (the demo's SQL) and ``commands`` (``facecluster demo``).
Production code never imports this package (``tests/deploy/test_image_contents.py`` checks it).
"""
