"""The Pulumi program deploying exec-assistant (see ``__main__.py`` and docs/DEPLOYMENT.md).

It is a package so its modules can be imported by the tests as ``infra.<module>``; it imports
nothing from ``exec_assistant``: the handlers are named by their contract strings.
"""
