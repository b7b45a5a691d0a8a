"""The metric catalogue and its compiler: KPIs as data, turned into SQL per engine."""
