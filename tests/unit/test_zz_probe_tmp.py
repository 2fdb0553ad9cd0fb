import time
from hypothesis import Phase, settings
from tests.unit import test_ledger_properties as t

def test_probe():
    found = 0
    start = time.time()
    for _ in range(10):
        case = t.Bank.TestCase
        case.settings = settings(case.settings, database=None, phases=[Phase.generate])
        try:
            case().runTest()
        except AssertionError:
            found += 1
        except Exception as e:
            found += 1
    print("found", found, "of 10 in", time.time() - start)
