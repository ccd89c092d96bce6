"""The one deviation of the AWS stand-in (moto 5.2.5) the collector tests patch, written once.

Used in-process (the ``moto_percentiles`` fixture in conftest.py) and in the ``moto_server``
subprocess (prepended to its start code). ``test_moto_still_lacks_percentiles`` fails the day moto
answers percentiles itself, so the patch is dropped rather than kept out of habit.
"""

# moto computes Sum/Average/Minimum/Maximum/SampleCount but not percentiles (pNN); it returns None
# and then fails to serialise. Real CloudWatch answers them, so give moto the same ability: the
# percentile of the raw values put in the period (nearest rank, as CloudWatch documents).
PATCH_MOTO_PERCENTILES = '''
import math, re
from moto.cloudwatch import models as _m
_orig = _m.Statistics.get_statistics_for_type
def _get(self, stat):
    if re.fullmatch(r"p\\d+(\\.\\d+)?", stat):
        xs = sorted(self.metric_single_values_list)
        if not xs:
            return None
        return xs[max(0, math.ceil(float(stat[1:]) / 100 * len(xs)) - 1)]
    return _orig(self, stat)
_m.Statistics.get_statistics_for_type = _get
'''
