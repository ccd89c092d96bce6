"""Hostile input against every wrapper: ``python -m twinbench fuzz`` / ``make fuzz``.

Three wrappers (the real gunicorn container, the WSGI Lambda under the local Lambda emulator, the
native Lambda handler in-process), each fed at least ``n`` generated requests by schemathesis or
hypothesis, then hand-written edge cases and slow clients. Passing means no 5xx, no crashed
worker and every 4xx the JSON error body.

This file imports none of its submodules: the schemathesis hooks import :mod:`.oracle` alone
inside ``.venv-fuzz``.

Details (wrappers, pass criteria, the modules): docs/reliability.md, 'The fuzz package'.
"""
