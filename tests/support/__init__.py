"""Helpers shared by the tests and the benchmarks, never shipped: aiortc test participants
(``support.testpeer``) and a synthetic hearing record (``support.synthetic``). The tests find
this package through ``tests/`` on the import path (pytest puts it there for ``conftest.py``);
a benchmark adds ``tests/`` itself."""
