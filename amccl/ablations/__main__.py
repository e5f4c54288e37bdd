"""``python -m amccl.ablations``: the ``ablate`` command on its own (see :mod:`amccl.ablations.cli`)."""

from amccl.ablations.cli import main

raise SystemExit(main())
