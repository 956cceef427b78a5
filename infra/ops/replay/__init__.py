"""Replaying a plan's Keycloak and OpenBao resources on real servers, through their APIs.

Takes a plan document (the shape of `pulumi stack export`) and a server; gives the server
the content the plan declares, translated input by input the way each Pulumi provider
would send it (no input dropped silently: `resources.UnhandledInput`). Two users: the
conformance tests (the plan against this suite's own servers) and the live lab (the plan
against the lab's containers). Each says, through its substitutions, which
environment-specific values it replaces; nothing that decides access is among them.
"""
