"""What the API does behind its routes: the routes' verbs (``accounts``, ``jobs``), and the loops
it runs beside its requests (``background``'s base class, ``dispatch``'s job dispatcher,
``reconcile``'s job reconciler)."""
