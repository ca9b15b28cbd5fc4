#!/usr/bin/env python3
"""A Django site that logs its people in with scanlogin (docs/oidc.md, "Django")."""
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "recipe.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
