"""The one planner every surface uses (see `planning.planner`).

    plan = await plan_message(PlanRequest(user=..., turns=..., router=...))
    outcome = settle(plan, result)

`PlanRequest` says what to plan (who, the conversation, what it goes to, where from);
`Plan` holds the chain of models to try, its `RoutingFacts` (`routers.facts`) and, when
nothing may be sent, `problem`; `settle` books the spend, logs the decision and remembers a
sticky rule once the answer is done.
"""
