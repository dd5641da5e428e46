"""Optional bridges to other tools, each imported on its own and only when used:
:mod:`faultmap.integrations.mlflow` (``pip install 'faultmap[mlflow]'``)."""
