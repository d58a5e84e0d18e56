-- 02 · The users table: latest name and city per user id (compacted topic, JSON values
-- {"userid", "name", "city"}, key = the user id string). Some cities start with 'Premium':
-- statement 05 keeps only those users' events.
--
-- Variables: users_topic, users_partitions. The per-user join (05) needs the stream side
-- co-partitioned with this table: 05 repartitions into users_partitions partitions.
CREATE TABLE USERS (
  userid VARCHAR PRIMARY KEY,
  name VARCHAR,
  city VARCHAR
) WITH (
  KAFKA_TOPIC = '${users_topic}',
  KEY_FORMAT = 'KAFKA',
  VALUE_FORMAT = 'JSON',
  PARTITIONS = ${users_partitions}
);
