#!/usr/bin/env python
"""Django's command-line entry point for the volunteer-records platform."""

import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "central.settings")
    from django.core.management import execute_from_command_line

    language = os.environ.get("PLATFORM_LANGUAGE", "").strip()
    if language:
        # Operators' lines are zh-Hans (LANGUAGE_CODE) unless PLATFORM_LANGUAGE asks
        # otherwise, e.g. PLATFORM_LANGUAGE=en; LANG is not followed, since servers and
        # containers mostly run with an English or C locale whatever their operators read.
        import django
        from django.utils import translation

        django.setup()
        translation.activate(language)
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
