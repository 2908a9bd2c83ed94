#ifndef PLAYCLOCK_CMOSQUITTO_SHIM_H
#define PLAYCLOCK_CMOSQUITTO_SHIM_H

#include <mosquitto.h>
#include <mqtt_protocol.h>

#endif
