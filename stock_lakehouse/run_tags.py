"""Tags the platform itself puts on Dagster runs, which the sensors read back.

A low module: `stock-lakehouse demo down` (services/) writes them and the stream supervisor (defs/)
reads them, and neither of those layers may import the other.
"""

# Set on runs that `stock-lakehouse demo down` ended: the supervisor restarts those, while a run a
# person terminated stays stopped.
STOPPED_BY_PLATFORM_TAG = "stock_lakehouse/stopped_by"
