"""twinbench: the measuring side of twinserve — local runtimes, load, cost model, collectors, report.

Kept apart from the prediction core (``shared/twinserve``) so nothing here is ever packaged
into the Lambda zip or the container image.
"""
