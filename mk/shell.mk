# shell_quote: a make value as one shell word: as it is when the shell would read it unchanged
# (t.csv, results/run-1/day.csv), else in single quotes (spaces, quotes, ; and the like), so a path
# given on the command line (TRACE="my traffic.csv") reaches the tool as one argument.
#   $(call shell_quote,$(TRACE))  ->  'my traffic.csv'
_SHELL_SPECIAL := ' " ; & | < > ( ) ` \ * ? [ ] $$ ~ ! { } \# =
_shell_single_quoted = '$(subst ','\'',$(1))'
shell_quote = $(if $(filter-out 1,$(words $(1)))$(strip $(foreach c,$(_SHELL_SPECIAL),$(findstring $(c),$(1)))),$(call _shell_single_quoted,$(1)),$(1))
