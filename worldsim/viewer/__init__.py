"""`worldsim view`: a local web viewer for a run folder and its versions (worldsim.viewer.server), and a
self-contained offline HTML export of it (worldsim.viewer.export). The page (static/) splats the dynamic
Gaussian scene on a 2D canvas; scene data comes from worldsim.viewer.data."""
