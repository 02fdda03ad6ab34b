"""Synthetic data for a region (``manage.py generate_data``): volunteers, groups,
memberships, projects and records written as the services would have written
them, for load tests, benchmarks and the demo. It writes across several apps, so
it is an app of its own (no models) rather than a part of any one of them; the
generator is :mod:`tenants.generator.data`."""
