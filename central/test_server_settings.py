"""Settings for the servers and commands the test suite starts: production's, with
three changes, a cheaper password hash and higher limits of refused registrations
and of certificate codes not found per client address (below, each says why).

Django hashes passwords with PBKDF2-SHA256 at 1,000,000 iterations, about 0.6 s a
hash on the 2-core machine the suite is measured on, and the suite registers and
logs in thousands of accounts. Its servers use the same algorithm and format
(``pbkdf2_sha256$<iterations>$…``) at 1,000 iterations, as Django's own docs advise
for tests ("Speeding up the tests"). A hash verifies with the iterations written
in it, so hashes made either way verify under either settings. Production never
imports this module.
"""

import os

from django.contrib.auth.hashers import PBKDF2PasswordHasher

from central.settings import *  # noqa: F403


class QuickPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    iterations = 1_000


PASSWORD_HASHERS = ["central.test_server_settings.QuickPBKDF2PasswordHasher"]

# Every test's client reaches the suite's shared server from 127.0.0.1, so the
# refused registrations of all the tests (duplicates asserted on purpose) would count
# against one address and lock registration for the tests after them. A server that
# tests the throttle (tests/test_oracles_round3.py) sets its own limit.
if "PLATFORM_REGISTRATION_REFUSAL_LIMIT" not in os.environ:
    REFUSAL_LIMIT = 10_000
# Likewise the certificate codes the tests look up and do not find on purpose (a
# server that tests that throttle, tests/test_trust_round6.py, sets its own limit).
if "PLATFORM_VERIFY_MISS_LIMIT" not in os.environ:
    VERIFY_MISS_LIMIT = 10_000
