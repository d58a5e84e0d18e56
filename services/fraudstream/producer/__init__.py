"""The event source: real CSV loader, synthetic generator, users table, rate-controlled replayer.

Public names (other parts import these; see docs/data.md):

- `csvsource.read_csv_events`, `csvsource.CsvReport`: stream the Kaggle/ULB creditcard.csv.
- `synthetic.generate_events`, `synthetic.generate_records`, `synthetic.generate_arrays`,
  `synthetic.generate_batch`, `synthetic.GeneratorParams`: realistic, reproducible events.
- `users.make_users`, `users.publish_users`: the compacted users table.
- `replay.replay`, `replay.replay_records`, `replay.ReplayStats`: publish to Kafka.
"""
