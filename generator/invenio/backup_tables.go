package invenio

// MainTables are the InvenioRDM v12 tables whose row counts a database
// backup records in its manifest and the restore check compares: records,
// drafts and their parents and files (invenio-rdm-records), file instances,
// objects and buckets (invenio-files-rest), communities and their members
// (invenio-communities), users (invenio-accounts). Names as in the
// packages' models (__tablename__).
var MainTables = []string{
	"accounts_user",
	"communities_members",
	"communities_metadata",
	"files_bucket",
	"files_files",
	"files_object",
	"rdm_drafts_files",
	"rdm_drafts_metadata",
	"rdm_parents_metadata",
	"rdm_records_files",
	"rdm_records_metadata",
	"rdm_versions_state",
}
