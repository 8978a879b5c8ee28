"""Interface layer (top): IPython magics, widgets, the Jupyter server extension."""
