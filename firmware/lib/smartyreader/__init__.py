# The SmartyReader firmware's device runtime around the P1 core (smarty): hardware
# (hw), network (net), MQTT (broker, publish), configuration (config), the main loop
# (app), the setup shell (shell, setup) and start-up (start).


def log(message):
    print("smartyreader: " + message)
