"""Response headers the handlers add and the bench reads: named once, on the serving side.

``x-twinserve-cold`` says whether this invocation was its execution environment's first, and
``x-twinserve-init-ms`` how long that environment's init took: the in-function evidence a
forced cold start is verified by (as SeBS does), whatever the platform's own logs say.
"""

COLD_HEADER = "x-twinserve-cold"
INIT_HEADER = "x-twinserve-init-ms"
