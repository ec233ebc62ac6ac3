"""Reference ops, one module per family of layer types, each loaded when a layer needs it.

Each layer class names its op by a string (``reference_op``), e.g.
``"convcalc.reference.ops.conv:conv"``: an `Op` (``_op.py``) with the type's kernel and
what verify's passes need of it. Shared helpers: ``_lift.py`` (1-D to 3-D inputs as 5-D
arrays), ``_window.py`` (options per dim, window placement, padding), ``_dot.py`` (linear's
dot product), ``_threads.py`` (a kernel's work items over the cores).

Arrays are float32, batch first and channels first: ``x`` is ``(N, C, *spatial)``. No
kernel calls BLAS or a framework; each can be checked line by line against its formula.
Compiled kernels are cached on disk, so only the first run pays for compiling, and only
for the kernels the network uses.

Every array a kernel needs, its output, scratch and index tables, is allocated by numpy in
the wrapper and handed to the compiled loop, which allocates nothing of size: so
`tracemalloc` sees every byte (numba's own allocator does not report to it), and
verify's memory estimate (memory.py) can be checked against what the kernels allocate.

Nothing here imports the rules the ops check (`convcalc.geometry`,
`convcalc.layers.window`): the ops read a layer's fields and place windows themselves.
"""
