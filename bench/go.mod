module github.com/amqplib-go/amqp/bench

go 1.26

require github.com/amqplib-go/amqp v0.0.0

require github.com/rabbitmq/amqp091-go v1.16.0

replace github.com/amqplib-go/amqp => ../
