"""Finished runs read back and compared, with no training stack: the names of run and sweep-job
folders (`job_names`, shared with the runs that write them), runs read from their folders
(`runs`), the tables that compare them (`tables`), a sweep's summary (`sweep_summary`), a run's
final printout (`final_metrics`) and the figures sweeps and the course report share (`figures`)."""
