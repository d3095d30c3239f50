"""Run ``locust`` with another loadkit version in this process only (bad-input table).

``python version_shim.py VERSION LOCUST-ARGS...``: loadkit reads ``loadkit._version.__version__``
when it sends its hello, so overriding it before Locust starts makes a worker of "another" version.
"""

import sys

import loadkit._version

if __name__ == "__main__":
    loadkit._version.__version__ = sys.argv[1]
    from locust.main import main

    sys.argv = ["locust", *sys.argv[2:]]
    main()
