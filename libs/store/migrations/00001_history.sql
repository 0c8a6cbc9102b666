-- +goose Up
-- The projection ledger: one row per event applied. Its primary key is the
-- event id (Nats-Msg-Id, or "<stream>-<sequence>" when a message has none),
-- so a redelivered or replayed event is applied once.
CREATE TABLE projected_events (
    event_id   text PRIMARY KEY,
    stream     text NOT NULL,
    seq        bigint NOT NULL,
    subject    text NOT NULL,
    type       text NOT NULL,
    at         timestamptz NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX projected_events_seq ON projected_events (stream, seq);

-- Rebuild requests in every state: pending (published, not yet in a batch),
-- superseded, rejected (manual names filter refused), batched, completed.
CREATE TABLE requests (
    request_id         text PRIMARY KEY,
    component          text NOT NULL,
    fedora_name        text NOT NULL DEFAULT '',
    build_id           bigint NOT NULL DEFAULT 0,
    nvr                text NOT NULL DEFAULT '',
    source_tag         text NOT NULL DEFAULT '',
    view               int NOT NULL DEFAULT 0,
    ordering           int NOT NULL DEFAULT 1000,
    reason             int NOT NULL DEFAULT 0,
    trigger_message_id text NOT NULL DEFAULT '',
    requested_by       text NOT NULL DEFAULT '',
    requested_at       timestamptz,
    note               text NOT NULL DEFAULT '',
    state              text NOT NULL CHECK (state IN ('pending', 'superseded', 'rejected', 'batched', 'completed')),
    superseded_by      text NOT NULL DEFAULT '',
    manual_id          text NOT NULL DEFAULT '',
    batch_id           text NOT NULL DEFAULT '',
    outcome            int NOT NULL DEFAULT 0,
    detail             text NOT NULL DEFAULT '',
    closed_at          timestamptz
);
CREATE INDEX requests_component ON requests (component);
CREATE INDEX requests_state ON requests (state);

CREATE TABLE manual_rebuilds (
    manual_id    text PRIMARY KEY,
    components   text[] NOT NULL,
    requested_by text NOT NULL DEFAULT '',
    requested_at timestamptz,
    reason       int NOT NULL DEFAULT 0
);

CREATE TABLE batches (
    batch_id          text PRIMARY KEY,
    started_at        timestamptz,
    completed_at      timestamptz,
    phase             int NOT NULL DEFAULT 0,
    phase_detail      text NOT NULL DEFAULT '',
    phase_since       timestamptz,
    result            int NOT NULL DEFAULT 0,
    error             text NOT NULL DEFAULT '',
    options           jsonb NOT NULL DEFAULT '{}',
    scratch           boolean NOT NULL DEFAULT false,
    build_side_tag    text NOT NULL DEFAULT '',
    update_side_tags  text[] NOT NULL DEFAULT '{}',
    side_tags_created int NOT NULL DEFAULT 0,
    current_slice     int NOT NULL DEFAULT 0,
    slices            int NOT NULL DEFAULT 0
);
CREATE INDEX batches_started ON batches (started_at DESC);

CREATE TABLE batch_phases (
    event_id text PRIMARY KEY,
    batch_id text NOT NULL,
    phase    int NOT NULL,
    at       timestamptz NOT NULL,
    detail   text NOT NULL DEFAULT '',
    side_tag text NOT NULL DEFAULT ''
);
CREATE INDEX batch_phases_batch ON batch_phases (batch_id, at);

-- One row per package of a batch: filled at ebs.batch.started, updated by
-- tasks, closed by the outcome of ebs.batch.completed.
CREATE TABLE batch_packages (
    batch_id           text NOT NULL,
    component          text NOT NULL,
    fedora_name        text NOT NULL DEFAULT '',
    request_id         text NOT NULL DEFAULT '',
    source_build_id    bigint NOT NULL DEFAULT 0,
    source_nvr         text NOT NULL DEFAULT '',
    ordering           int NOT NULL DEFAULT 1000,
    scm_url            text NOT NULL DEFAULT '',
    seeded             boolean NOT NULL DEFAULT false,
    state              int NOT NULL DEFAULT 7,
    nvr                text NOT NULL DEFAULT '',
    build_id           bigint NOT NULL DEFAULT 0,
    task_id            bigint NOT NULL DEFAULT 0,
    task_ids           bigint[] NOT NULL DEFAULT '{}',
    attempts           int NOT NULL DEFAULT 0,
    reason             text NOT NULL DEFAULT '',
    bodhi_update_alias text NOT NULL DEFAULT '',
    bodhi_update_url   text NOT NULL DEFAULT '',
    reached_stable     boolean NOT NULL DEFAULT false,
    denylisted         boolean NOT NULL DEFAULT false,
    last_task_outcome  int NOT NULL DEFAULT 0,
    final              boolean NOT NULL DEFAULT false,
    PRIMARY KEY (batch_id, component)
);
CREATE INDEX batch_packages_component ON batch_packages (component);

CREATE TABLE slices (
    batch_id    text NOT NULL,
    slice       int NOT NULL,
    ordering    int NOT NULL DEFAULT 0,
    components  text[] NOT NULL DEFAULT '{}',
    state       text NOT NULL DEFAULT 'running',
    started_at  timestamptz,
    finished_at timestamptz,
    succeeded   text[] NOT NULL DEFAULT '{}',
    failed      text[] NOT NULL DEFAULT '{}',
    timed_out   text[] NOT NULL DEFAULT '{}',
    attempts    int NOT NULL DEFAULT 0,
    PRIMARY KEY (batch_id, slice)
);

CREATE TABLE attempts (
    attempt_id  text PRIMARY KEY,
    batch_id    text NOT NULL,
    slice       int NOT NULL,
    attempt     int NOT NULL,
    components  text[] NOT NULL DEFAULT '{}',
    started_at  timestamptz,
    finished_at timestamptz,
    succeeded   text[] NOT NULL DEFAULT '{}',
    failed      text[] NOT NULL DEFAULT '{}',
    timed_out   text[] NOT NULL DEFAULT '{}'
);
CREATE INDEX attempts_batch ON attempts (batch_id, slice, attempt);

CREATE TABLE tasks (
    task_id      bigint PRIMARY KEY,
    attempt_id   text NOT NULL DEFAULT '',
    batch_id     text NOT NULL DEFAULT '',
    component    text NOT NULL DEFAULT '',
    scm_url      text NOT NULL DEFAULT '',
    submitted_at timestamptz,
    finished_at  timestamptz,
    outcome      int NOT NULL DEFAULT 0,
    koji_state   int NOT NULL DEFAULT 0,
    nvr          text NOT NULL DEFAULT '',
    build_id     bigint NOT NULL DEFAULT 0,
    reason       text NOT NULL DEFAULT '',
    observed_by  int NOT NULL DEFAULT 0
);
CREATE INDEX tasks_attempt ON tasks (attempt_id);
CREATE INDEX tasks_component ON tasks (component);

CREATE TABLE side_tags (
    tag        text PRIMARY KEY,
    batch_id   text NOT NULL DEFAULT '',
    purpose    int NOT NULL DEFAULT 0,
    base_tag   text NOT NULL DEFAULT '',
    created_at timestamptz,
    removed_at timestamptz
);
CREATE INDEX side_tags_batch ON side_tags (batch_id);

-- Worker commands (Koji, watch, Bodhi) and how they ended: call counts,
-- failures and what a batch asked of each system.
CREATE TABLE commands (
    command_id  text PRIMARY KEY,
    system      text NOT NULL,
    verb        text NOT NULL,
    batch_id    text NOT NULL DEFAULT '',
    issued_at   timestamptz,
    finished_at timestamptz,
    result      text NOT NULL DEFAULT '',
    error       text NOT NULL DEFAULT ''
);
CREATE INDEX commands_batch ON commands (batch_id);

CREATE TABLE bodhi_updates (
    alias      text PRIMARY KEY,
    batch_id   text NOT NULL DEFAULT '',
    command_id text NOT NULL DEFAULT '',
    url        text NOT NULL DEFAULT '',
    from_tag   text NOT NULL DEFAULT '',
    nvrs       text[] NOT NULL DEFAULT '{}',
    status     text NOT NULL DEFAULT '',
    chunk      int NOT NULL DEFAULT 0,
    existing   boolean NOT NULL DEFAULT false,
    dry_run    boolean NOT NULL DEFAULT false,
    final      boolean NOT NULL DEFAULT false,
    timed_out  boolean NOT NULL DEFAULT false,
    created_at timestamptz,
    updated_at timestamptz
);
CREATE INDEX bodhi_updates_batch ON bodhi_updates (batch_id);

CREATE TABLE dead_letters (
    id         text PRIMARY KEY,
    service    text NOT NULL DEFAULT '',
    stream     text NOT NULL DEFAULT '',
    seq        bigint NOT NULL DEFAULT 0,
    subject    text NOT NULL DEFAULT '',
    reason     text NOT NULL DEFAULT '',
    payload    bytea,
    headers    jsonb NOT NULL DEFAULT '{}',
    at         timestamptz,
    deliveries bigint NOT NULL DEFAULT 0
);
CREATE INDEX dead_letters_at ON dead_letters (at DESC);

CREATE TABLE config_events (
    event_id text PRIMARY KEY,
    service  text NOT NULL DEFAULT '',
    source   text NOT NULL DEFAULT '',
    accepted boolean NOT NULL,
    error    text NOT NULL DEFAULT '',
    digest   text NOT NULL DEFAULT '',
    at       timestamptz
);

-- Everything that happened to one ELN component, one row per (event, kind):
-- "what happened to package X and why".
CREATE TABLE package_history (
    event_id   text NOT NULL,
    component  text NOT NULL,
    kind       text NOT NULL,
    at         timestamptz NOT NULL,
    batch_id   text NOT NULL DEFAULT '',
    request_id text NOT NULL DEFAULT '',
    nvr        text NOT NULL DEFAULT '',
    task_id    bigint NOT NULL DEFAULT 0,
    alias      text NOT NULL DEFAULT '',
    detail     text NOT NULL DEFAULT '',
    url        text NOT NULL DEFAULT '',
    seq        bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (event_id, component, kind)
);
CREATE INDEX package_history_component ON package_history (component, at, seq);

-- +goose Down
DROP TABLE package_history;
DROP TABLE config_events;
DROP TABLE dead_letters;
DROP TABLE bodhi_updates;
DROP TABLE commands;
DROP TABLE side_tags;
DROP TABLE tasks;
DROP TABLE attempts;
DROP TABLE slices;
DROP TABLE batch_packages;
DROP TABLE batch_phases;
DROP TABLE batches;
DROP TABLE manual_rebuilds;
DROP TABLE requests;
DROP TABLE projected_events;
