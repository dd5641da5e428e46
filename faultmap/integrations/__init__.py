"""Optional bridges to other tools, each imported on its own and only when used:
:mod:`faultmap.integrations.mlflow` (``pip install 'faultmap[mlflow]'``),
:mod:`faultmap.integrations.wandb` (``pip install 'faultmap[wandb]'``) and
:mod:`faultmap.integrations.ray` (``pip install 'faultmap[ray]'``).

``import faultmap`` loads none of them; importing one of these modules loads its tool only
when one of its functions runs (:func:`faultmap._optional.require`).
"""
