"""The web console: what technicians, editors and approvers open in a browser.

Starlette with Jinja2 pages rendered on the server and a few lines of JavaScript for the live
parts; every asset is served from the package (it works with no internet). It reads the same
configuration, play log and request queue as the commands, and decides who may do what in one
place (``records.accounts.RIGHTS``, checked by ``web.app`` for every request).
"""
