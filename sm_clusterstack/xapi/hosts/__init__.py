"""Running on a pool's host what xapi runs there: SR drivers, stack scripts, PBD plugs.

``onhost`` runs a stack script or a driver on a host (inside its host
sandbox when it has one, with xapi's environment); ``drivers`` runs an
SR's driver as ``sm_exec.ml`` does; ``plug`` reserves, attaches and
commits PBD plugs under the one-stack rule; ``runs`` records running
driver processes so that a restart ends a dead instance's; ``sandboxes``
gives each host of a ``serve --sandbox`` pool its sandbox, socket and
health check; ``smscan`` builds the SM records from the sm-dir.
"""
