"""Reports built from `plan.json`: Excel workbook, self-contained HTML, CSV tables and scenario comparison.

Entry points (imported from their modules so that loading the CLI stays light):
`planner.report.outputs.write_all_reports`, `planner.report.workbook.write_workbook`,
`planner.report.html.write_html_report`, `planner.report.csvs.write_csvs`,
`planner.report.compare.write_comparison`, `planner.report.cli.add_report_parser` / `run_report`.
"""
