"""Runtime operators: one class per plan step, each owning its state.

The planner wires them to a query's source topics; each `on_*` method takes one input
record and returns what the sink emitted for it.
"""

from fraudstream.ksql.engine.operators.aggregate import AggregateOperator, WindowSpec
from fraudstream.ksql.engine.operators.aggregates import Aggregator, make_aggregator
from fraudstream.ksql.engine.operators.join import JoinOperator, JoinShape
from fraudstream.ksql.engine.operators.select import SelectOperator
from fraudstream.ksql.engine.operators.sink import SinkOperator, TransientSink
from fraudstream.ksql.engine.operators.stream_stream_join import StreamStreamJoin
from fraudstream.ksql.engine.operators.stream_table_join import StreamTableJoin
from fraudstream.ksql.engine.operators.table_table_join import TableTableJoin

__all__ = [
    "AggregateOperator",
    "Aggregator",
    "JoinOperator",
    "JoinShape",
    "SelectOperator",
    "SinkOperator",
    "StreamStreamJoin",
    "StreamTableJoin",
    "TableTableJoin",
    "TransientSink",
    "WindowSpec",
    "make_aggregator",
]
