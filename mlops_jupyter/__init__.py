"""mlops-jupyter: a tagged notebook in, a versioned, cached and recorded pipeline out.

Importing this package stays cheap on purpose: the CLI, the magics and every stage kernel
import it, and nothing here may pull in jupyter, papermill or nbformat.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
