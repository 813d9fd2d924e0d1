-- The InvenioRDM v12 tables the largest-files report reads, as the v12
-- models create them on PostgreSQL (column names, types, nullability, keys
-- and foreign keys; tables and columns the report does not touch are left
-- out). Sources, at the versions invenio-app-rdm v12.0.10 pins:
--   invenio-records 2.x        invenio_records/models.py           RecordMetadataBase (created, updated, id, json JSONB, version_id)
--   invenio-drafts-resources 3.x invenio_drafts_resources/records/models.py ParentRecordMixin (parent_id, index), DraftMetadataBase
--   invenio-files-rest 2.x     invenio_files_rest/models.py        files_location, files_bucket, files_files, files_object
--   invenio-records-resources 5.x invenio_records_resources/records/models.py FileRecordModelMixin (key, record_id, object_version_id)
--   invenio-communities 13.x   invenio_communities/communities/records/models.py communities_metadata;
--                              invenio_communities/records/records/models.py CommunityRelationMixin
--   invenio-rdm-records 10.x   invenio_rdm_records/records/models.py rdm_parents_metadata, rdm_parents_community,
--                              rdm_records_metadata, rdm_records_files, rdm_drafts_metadata, rdm_drafts_files
--   invenio-accounts 5.x       invenio_accounts/models.py          accounts_user

CREATE TABLE files_location (
    created timestamp NOT NULL, updated timestamp NOT NULL,
    id serial PRIMARY KEY,
    name varchar(20) NOT NULL UNIQUE,
    uri varchar(255) NOT NULL,
    "default" boolean NOT NULL
);
CREATE TABLE files_bucket (
    created timestamp NOT NULL, updated timestamp NOT NULL,
    id uuid PRIMARY KEY,
    default_location integer NOT NULL REFERENCES files_location (id) ON DELETE RESTRICT,
    default_storage_class varchar(1) NOT NULL,
    size bigint NOT NULL,
    quota_size bigint,
    max_file_size bigint,
    locked boolean NOT NULL,
    deleted boolean NOT NULL
);
CREATE TABLE files_files (
    created timestamp NOT NULL, updated timestamp NOT NULL,
    id uuid PRIMARY KEY,
    uri text UNIQUE,
    storage_class varchar(1),
    size bigint,
    checksum varchar(255),
    readable boolean NOT NULL,
    writable boolean NOT NULL,
    last_check_at timestamp,
    last_check boolean
);
CREATE TABLE files_object (
    created timestamp NOT NULL, updated timestamp NOT NULL,
    bucket_id uuid NOT NULL REFERENCES files_bucket (id) ON DELETE CASCADE,
    key text NOT NULL,
    version_id uuid PRIMARY KEY,
    file_id uuid REFERENCES files_files (id) ON DELETE RESTRICT,
    _mimetype varchar(255),
    is_head boolean NOT NULL
);
CREATE TABLE accounts_user (
    created timestamp NOT NULL, updated timestamp NOT NULL,
    id serial PRIMARY KEY,
    username varchar(255) UNIQUE,
    displayname varchar(255),
    email varchar(255) UNIQUE,
    domain varchar(255),
    password varchar(255),
    active boolean,
    confirmed_at timestamp,
    version_id integer NOT NULL
);
CREATE TABLE communities_metadata (
    created timestamp NOT NULL, updated timestamp NOT NULL,
    id uuid PRIMARY KEY,
    json jsonb,
    version_id integer NOT NULL,
    slug varchar(255) UNIQUE,
    bucket_id uuid REFERENCES files_bucket (id),
    deletion_status varchar(1) NOT NULL
);
CREATE TABLE rdm_parents_metadata (
    created timestamp NOT NULL, updated timestamp NOT NULL,
    id uuid PRIMARY KEY,
    json jsonb,
    version_id integer NOT NULL
);
CREATE TABLE rdm_parents_community (
    community_id uuid NOT NULL REFERENCES communities_metadata (id) ON DELETE CASCADE,
    record_id uuid NOT NULL REFERENCES rdm_parents_metadata (id) ON DELETE CASCADE,
    request_id uuid, -- REFERENCES request_metadata (id) ON DELETE SET NULL (invenio-requests, not loaded)
    PRIMARY KEY (community_id, record_id)
);
CREATE TABLE rdm_records_metadata (
    created timestamp NOT NULL, updated timestamp NOT NULL,
    id uuid PRIMARY KEY,
    json jsonb,
    version_id integer NOT NULL,
    parent_id uuid REFERENCES rdm_parents_metadata (id) ON DELETE RESTRICT,
    index integer,
    bucket_id uuid REFERENCES files_bucket (id),
    media_bucket_id uuid REFERENCES files_bucket (id),
    deletion_status varchar(1) NOT NULL
);
CREATE TABLE rdm_records_files (
    created timestamp NOT NULL, updated timestamp NOT NULL,
    id uuid PRIMARY KEY,
    json jsonb,
    version_id integer NOT NULL,
    key text NOT NULL,
    record_id uuid NOT NULL REFERENCES rdm_records_metadata (id) ON DELETE RESTRICT,
    object_version_id uuid REFERENCES files_object (version_id) ON DELETE RESTRICT
);
CREATE UNIQUE INDEX uidx_rdm_records_files_record_id_key ON rdm_records_files (record_id, key);
CREATE TABLE rdm_drafts_metadata (
    created timestamp NOT NULL, updated timestamp NOT NULL,
    id uuid PRIMARY KEY,
    json jsonb,
    version_id integer NOT NULL,
    fork_version_id integer,
    expires_at timestamp,
    parent_id uuid REFERENCES rdm_parents_metadata (id) ON DELETE RESTRICT,
    index integer,
    bucket_id uuid REFERENCES files_bucket (id),
    media_bucket_id uuid REFERENCES files_bucket (id)
);
CREATE TABLE rdm_drafts_files (
    created timestamp NOT NULL, updated timestamp NOT NULL,
    id uuid PRIMARY KEY,
    json jsonb,
    version_id integer NOT NULL,
    key text NOT NULL,
    record_id uuid NOT NULL REFERENCES rdm_drafts_metadata (id) ON DELETE RESTRICT,
    object_version_id uuid REFERENCES files_object (version_id) ON DELETE RESTRICT
);
CREATE UNIQUE INDEX uidx_rdm_drafts_files_record_id_key ON rdm_drafts_files (record_id, key);
