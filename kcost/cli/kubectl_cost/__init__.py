"""``kubectl cost``: kcost from the command line, straight from the Kubernetes API.

Installed as the console script ``kubectl-cost`` so that kubectl finds it on PATH.
It uses the user's kubeconfig and needs no kcost API server (except ``dashboard``, which
opens the status API's). Imports are lazy: the help must come up fast.

Modules by concern:

- ``errors``: exit codes and failures a user can act on;
- ``session``: the connection flags and running one command's API work;
- ``calls``: every call to the Kubernetes API, one small function each;
- ``outputs``: the ``-o`` formats, each a registered formatter;
- ``options``, ``units``: shared flags and how numbers are written;
- ``proxy``: the local proxy of ``kubectl cost dashboard`` that adds the user's token;
- ``commands.*``: one module per command group; ``root`` assembles them.
"""

from __future__ import annotations


def main() -> None:
    """The ``kubectl-cost`` console script."""
    from kcost.cli.kubectl_cost.root import cli

    cli()
