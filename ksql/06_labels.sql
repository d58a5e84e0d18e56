-- 06 · Delayed labels: the labelled training stream built from labels that arrive later.
--
-- In production a transaction's label (fraud or not) arrives days after the event, through
-- chargebacks and investigations. The producer can hold labels back (`fraudstream produce
-- --labels delayed`): the live event then carries Class null, and the label is published
-- later to labels_topic as {"Id", "Class", "LabelTime"} (JSON, key = the event Id).
--
--   a) fraud_labels declares that topic, with the source's partition count: both sides of a
--      join must have the same number of partitions (ksqlDB repartitions both by Id here,
--      since neither declares a key column).
--   b) creditcardfraud_labelled joins each unlabelled event to its label: a windowed
--      stream-stream join on the record times (the event's when it entered the pipeline,
--      the label's when it was published). A label arriving up to 2 minutes after its event
--      (and up to 30 seconds before it, for clock skew) joins; later ones are dropped here
--      (the monitor still counts them). The window fits the demo delays (`fraudstream up`:
--      exp:5s): a stream-stream join holds every event of the window in its state, which
--      the embedded engine keeps in memory (about 1 KB per event: 3 minutes of retention
--      at 500 events/s is ~100 MB). With real delays of days, on ksqlDB (state on disk,
--      RocksDB) raise the WITHIN to the label horizon, e.g. WITHIN (1 MINUTE, 7 DAYS).
--      Key = the event Id (the join key, ksqlDB requires it in the projection); ID is
--      repeated in the value with AS_VALUE. Its topic (labelled_topic) is KSQL-internal and
--      user-free.
--   c) the INSERT adds those rows to the training stream (03). 03 keeps accepting events
--      that arrive already labelled (historic data: WHERE Class IS NOT NULL); this side takes
--      only events that came without a label (WHERE e.Class IS NULL), so none is counted
--      twice. PARTITION BY NULL drops the key: the training records carry no key, as 03's.
--      The fixed QUERY_ID makes the INSERT idempotent: `fraudstream ksql apply` skips it when
--      a query with that id already runs (ksqlDB refuses a second one with the same id).
--
-- Variables: labels_topic, labelled_topic, source_partitions.
CREATE STREAM fraud_labels (
  Id BIGINT,
  Class INT,
  LabelTime VARCHAR
) WITH (
  KAFKA_TOPIC = '${labels_topic}',
  VALUE_FORMAT = 'JSON',
  PARTITIONS = ${source_partitions}
);

CREATE STREAM creditcardfraud_labelled WITH (
  KAFKA_TOPIC = '${labelled_topic}',
  VALUE_FORMAT = 'JSON'
) AS SELECT
  e.Id AS EVENT_ID,
  AS_VALUE(e.Id) AS ID,
  e.Timestamp AS TIMESTAMP,
  e.Time AS TIME,
  e.V1 AS V1,
  e.V2 AS V2,
  e.V3 AS V3,
  e.V4 AS V4,
  e.V5 AS V5,
  e.V6 AS V6,
  e.V7 AS V7,
  e.V8 AS V8,
  e.V9 AS V9,
  e.V10 AS V10,
  e.V11 AS V11,
  e.V12 AS V12,
  e.V13 AS V13,
  e.V14 AS V14,
  e.V15 AS V15,
  e.V16 AS V16,
  e.V17 AS V17,
  e.V18 AS V18,
  e.V19 AS V19,
  e.V20 AS V20,
  e.V21 AS V21,
  e.V22 AS V22,
  e.V23 AS V23,
  e.V24 AS V24,
  e.V25 AS V25,
  e.V26 AS V26,
  e.V27 AS V27,
  e.V28 AS V28,
  e.Amount AS AMOUNT,
  l.Class AS CLASS,
  l.LabelTime AS LABEL_TIME
FROM creditcardfraud_source e
INNER JOIN fraud_labels l WITHIN (30 SECONDS, 2 MINUTES) GRACE PERIOD 30 SECONDS ON e.Id = l.Id
WHERE e.Class IS NULL AND l.Class IS NOT NULL
EMIT CHANGES;

INSERT INTO creditcardfraud_preprocessed_avro WITH (QUERY_ID = 'INSERTQUERY_TRAINING_LABELLED') SELECT
  ID, TIMESTAMP, TIME,
  V1, V2, V3, V4, V5, V6, V7, V8, V9, V10, V11, V12, V13, V14, V15, V16, V17, V18, V19, V20, V21, V22, V23, V24, V25, V26, V27, V28,
  AMOUNT, CLASS
FROM creditcardfraud_labelled
PARTITION BY NULL
EMIT CHANGES;
