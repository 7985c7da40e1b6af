"""The IPython face: ``%mlops`` magics and the ipywidgets views. Imports IPython; nothing below
the faces imports this package."""
