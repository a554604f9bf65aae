"""The device campaign runner's parts (``scripts/device_campaign.py`` is its command line).

Every module but :mod:`campaign.needs` uses the standard library alone: ``run`` executes on a
machine that has only its own image and the carried wheels.
"""
