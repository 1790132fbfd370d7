"""Code that runs in the browser: the Pyodide worker's templates, the snapshot JS, and the patch coalescing they use."""
