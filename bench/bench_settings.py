"""Settings of the benchmark servers only (``bench/regions.py``): the platform's
settings with a URLconf for region hosts that adds a plain view next to the
real ``/graphql``. Never used outside the benchmarks."""

from central.settings import *  # noqa: F403

ROOT_URLCONF = "bench.bench_urls"
