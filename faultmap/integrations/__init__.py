"""Optional bridges to other systems (Ray, ...), each imported only when used.

``import faultmap`` loads none of them; ``import faultmap.integrations.ray`` loads no Ray
either until one of its functions runs (:func:`faultmap._optional.require`).
"""
