"""Turn a name a recipe gives (a local path, `world:<name>`, a hub id) into rows or a model, checked: a bad name
fails here, before the run, with an error that says which."""
