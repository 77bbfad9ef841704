"""``sm-clusterstack xe``: an xe that behaves like xe, on a shim, a real xapi or an embedded pool.

``main`` is the verb (xe's command line, exit codes and error texts);
``connect`` reads where to connect and as whom (xe's options, ``~/.xe``,
``--embedded``) and ``session`` logs in there, starting the embedded pool
when it is asked for; ``records`` and ``classes`` are the xe view of each
XenAPI class (records.ml's fields), ``select`` prints and filters records,
``params`` generates each class's ``<class>-*`` commands and ``commands``
adds the hand-written ones; ``errors`` renders failures as xe does,
``explain`` adds the project's ``Why:``/``Next:`` lines, ``progress`` draws
an async call's progress bar, and ``help`` is ``xe help``.
"""
