"""Everything that is not a Pulumi resource, by stage of the one-way flow:

stack file -> `spec` (validated `PlatformSpec`) -> the program (`stacks/`, `components/`)
-> `plan` (the program under mocks, the stack-export document) -> `audit` (rules, reports,
diagrams) and `ops` (deploy, bootstrap, drift, verify, the live lab). `cli` draws it all.
A stage imports only the stages before it.
"""
