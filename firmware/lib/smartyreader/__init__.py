# The SmartyReader firmware's device runtime around the P1 core (smarty): hardware
# (hw), network (net), MQTT (broker, publish), configuration (config) and the main
# loop (app).
