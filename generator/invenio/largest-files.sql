-- The largest uploaded files, overall and per community, of InvenioRDM v12.
-- Run by the report-largest-files CronJob as
--   psql --no-psqlrc --set=ON_ERROR_STOP=1 --set=top=N --file=largest-files.sql
-- Tables and columns as the v12 models define them (docs/operations.md):
--   rdm_records_metadata, rdm_records_files, rdm_parents_metadata,
--   rdm_parents_community        invenio-rdm-records 10.x records/models.py
--   rdm_records_files.key, .record_id, .object_version_id
--                                invenio-records-resources 5.x FileRecordModelMixin
--   files_object, files_files    invenio-files-rest 2.x models.py
--   communities_metadata         invenio-communities 13.x communities/records/models.py
--   accounts_user                invenio-accounts 5.x models.py
--
-- A file is one stored file (files_files row): a new version of a record
-- that keeps a file points at the same stored file, so it is counted once
-- and shown with the newest published version that has it. Drafts,
-- deleted records and deleted communities are left out; a record in no
-- community is ranked overall only, a record in several communities in each
-- of them. Deletion status 'P' is "published" in both RecordDeletionStatusEnum
-- (invenio-rdm-records) and CommunityDeletionStatusEnum (invenio-communities).
WITH published AS (
    SELECT ff.id           AS file_id,
           ff.size         AS size,
           ff.created      AS uploaded,
           rf.key          AS file_name,
           r.json ->> 'id' AS record,
           r.parent_id     AS parent_id,
           r.index         AS version,
           p.json -> 'access' -> 'owned_by' ->> 'user' AS owner_id
      FROM rdm_records_files rf
      JOIN rdm_records_metadata r ON r.id = rf.record_id
      JOIN rdm_parents_metadata p ON p.id = r.parent_id
      JOIN files_object fo ON fo.version_id = rf.object_version_id
      JOIN files_files ff ON ff.id = fo.file_id
     WHERE r.json IS NOT NULL
       AND r.deletion_status = 'P'
       AND ff.size IS NOT NULL
),
stored AS (
    SELECT DISTINCT ON (file_id) *
      FROM published
     ORDER BY file_id, version DESC
),
ranked AS (
    SELECT '(all)' AS scope,
           row_number() OVER (ORDER BY size DESC, uploaded, file_id) AS rank,
           s.*
      FROM stored s
    UNION ALL
    SELECT c.slug AS scope,
           row_number() OVER (PARTITION BY c.slug ORDER BY s.size DESC, s.uploaded, s.file_id) AS rank,
           s.*
      FROM stored s
      JOIN rdm_parents_community pc ON pc.record_id = s.parent_id
      JOIN communities_metadata c ON c.id = pc.community_id
     WHERE c.json IS NOT NULL
       AND c.deletion_status = 'P'
)
SELECT ranked.scope     AS community,
       ranked.rank      AS rank,
       ranked.size      AS bytes,
       pg_size_pretty(ranked.size) AS size,
       ranked.record    AS record,
       ranked.file_name AS file,
       coalesce(u.email, ranked.owner_id, '-') AS owner,
       to_char(ranked.uploaded, 'YYYY-MM-DD HH24:MI') AS uploaded
  FROM ranked
  LEFT JOIN accounts_user u ON u.id::text = ranked.owner_id
 WHERE ranked.rank <= :top
 ORDER BY ranked.scope = '(all)' DESC, ranked.scope, ranked.rank;
